#include "app/consumer_name.h"

#include <gtest/gtest.h>

namespace auditq::app {
namespace {

TEST(ConsumerName, AServiceOfSystemdGivesTheUnitWhichSurvivesRestarts) {
  // cgroup v2 (Debian 12), a template instance, and v1 with systemd's named hierarchy; the
  // process is the one systemd executed ($SYSTEMD_EXEC_PID).
  EXPECT_EQ(defaultConsumerName("db1", "0::/system.slice/auditq.service\n", 4242, 4242),
            "db1-auditq.service");
  EXPECT_EQ(defaultConsumerName("db1",
                                "0::/system.slice/system-auditq.slice/"
                                "auditq@orders.service\n",
                                4242, 4242),
            "db1-auditq@orders.service");
  EXPECT_EQ(defaultConsumerName("db1",
                                "12:memory:/system.slice/auditq.service\n"
                                "1:name=systemd:/system.slice/auditq.service\n"
                                "0::/system.slice/auditq.service\n",
                                7, 7),
            "db1-auditq.service");
  // A user service (systemctl --user) is a unit too.
  EXPECT_EQ(systemdServiceOf("0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
                             "auditq.service\n"),
            "auditq.service");
}

TEST(ConsumerName, ADaemonThatAServiceSpawnsKeepsItsPid) {
  // A test harness or a CI runner run as a service: every daemon it starts is in its cgroup
  // and inherits its $SYSTEMD_EXEC_PID (or has none); named after the unit, all would share
  // one name.
  EXPECT_EQ(defaultConsumerName("db1", "0::/system.slice/ci-runner.service\n", 5001, 812),
            "db1-5001");
  EXPECT_EQ(defaultConsumerName("db1", "0::/system.slice/ci-runner.service\n", 5001, 0),
            "db1-5001");
}

TEST(ConsumerName, AnythingElseGivesThePid) {
  // A login session, a container's own cgroup namespace, a transient scope, v1 without
  // systemd's hierarchy, an unreadable file, a path that merely ends in the word.
  for (const char* cgroup :
       {"0::/user.slice/user-0.slice/session-3.scope\n", "0::/\n",
        "0::/system.slice/docker-4f2a.scope\n", "4:cpu,cpuacct:/system.slice/auditq.service\n", "",
        "0::/.service\n", "garbage without colons\n"}) {
    EXPECT_EQ(defaultConsumerName("db1", cgroup, 4242, 4242), "db1-4242") << cgroup;
  }
  EXPECT_EQ(defaultConsumerName("", "", 1, 0), "auditq-1");
}

} // namespace
} // namespace auditq::app
