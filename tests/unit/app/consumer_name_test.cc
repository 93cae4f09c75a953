#include "app/consumer_name.h"

#include <gtest/gtest.h>

namespace auditq::app {
namespace {

constexpr const char* kId = "4f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19";

ProcessFacts facts(std::string host, std::string cgroup, long pid, long exec_pid = 0,
                   std::string mountinfo = "") {
  return {std::move(host), std::move(cgroup), std::move(mountinfo), pid, exec_pid};
}

std::string dockerMountinfo(const std::string& id) {
  return "612 587 0:52 / / rw,relatime master:305 - overlay overlay rw\n"
         "623 612 254:1 /var/lib/docker/containers/" +
         id + "/hostname /etc/hostname rw,relatime - ext4 /dev/vda1 rw\n";
}

TEST(ConsumerName, AServiceOfSystemdGivesTheUnitWhichSurvivesRestarts) {
  // cgroup v2 (Debian 12), a template instance, and v1 with systemd's named hierarchy; the
  // process is the one systemd executed ($SYSTEMD_EXEC_PID).
  EXPECT_EQ(defaultConsumerName(facts("db1", "0::/system.slice/auditq.service\n", 4242, 4242)),
            "db1-auditq.service");
  EXPECT_EQ(defaultConsumerName(facts("db1",
                                      "0::/system.slice/system-auditq.slice/"
                                      "auditq@orders.service\n",
                                      4242, 4242)),
            "db1-auditq@orders.service");
  EXPECT_EQ(defaultConsumerName(facts("db1",
                                      "12:memory:/system.slice/auditq.service\n"
                                      "1:name=systemd:/system.slice/auditq.service\n"
                                      "0::/system.slice/auditq.service\n",
                                      7, 7)),
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
  EXPECT_EQ(defaultConsumerName(facts("db1", "0::/system.slice/ci-runner.service\n", 5001, 812)),
            "db1-5001");
  EXPECT_EQ(defaultConsumerName(facts("db1", "0::/system.slice/ci-runner.service\n", 5001)),
            "db1-5001");
}

TEST(ConsumerName, AContainerOnTheHostsNetworkIsNamedByItsId) {
  // Host networking: the hostname is the host's, the same in every such container.
  EXPECT_EQ(defaultConsumerName(facts("db1", "0::/\n", 1, 0, dockerMountinfo(kId))),
            "db1-4f2a9c1d8e7b");
  // Podman's layout.
  EXPECT_EQ(containerIdOf("700 690 0:40 /var/lib/containers/storage/overlay-containers/" +
                          std::string(kId) +
                          "/userdata/hostname /etc/hostname rw - tmpfs tmpfs rw\n"),
            kId);
  // Its own hostname (the short id): unique already, and the name it always had.
  EXPECT_EQ(defaultConsumerName(facts("4f2a9c1d8e7b", "0::/\n", 1, 0, dockerMountinfo(kId))),
            "4f2a9c1d8e7b-1");
  // Not the entrypoint (docker exec, an init in front): another process of the container.
  EXPECT_EQ(defaultConsumerName(facts("db1", "0::/\n", 7, 0, dockerMountinfo(kId))), "db1-7");
  // No container: /etc/hostname is not a bind mount, or its source has no id.
  EXPECT_EQ(containerIdOf("22 1 254:1 / / rw - ext4 /dev/vda1 rw\n"), std::nullopt);
  EXPECT_EQ(containerIdOf("23 22 254:1 /srv/etc/hostname /etc/hostname rw - ext4 /dev/vda1 rw\n"),
            std::nullopt);
  EXPECT_EQ(containerIdOf("24 22 254:1 /var/lib/docker/containers/" + std::string(kId) +
                          "/hostname /etc/hosts rw - ext4 /dev/vda1 rw\n"),
            std::nullopt);
}

TEST(ConsumerName, AnythingElseGivesThePid) {
  // A login session, a container's own cgroup namespace, a transient scope, v1 without
  // systemd's hierarchy, an unreadable file, a path that merely ends in the word.
  for (const char* cgroup :
       {"0::/user.slice/user-0.slice/session-3.scope\n", "0::/\n",
        "0::/system.slice/docker-4f2a.scope\n", "4:cpu,cpuacct:/system.slice/auditq.service\n", "",
        "0::/.service\n", "garbage without colons\n"}) {
    EXPECT_EQ(defaultConsumerName(facts("db1", cgroup, 4242, 4242)), "db1-4242") << cgroup;
  }
  EXPECT_EQ(defaultConsumerName(facts("", "", 1)), "auditq-1");
}

} // namespace
} // namespace auditq::app
