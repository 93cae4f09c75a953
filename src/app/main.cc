// auditq entry point: everything happens in app::runCli.
#include "app/cli.h"

int main(int argc, char** argv) {
  return auditq::app::runCli(argc, argv);
}
