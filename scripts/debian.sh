# Sourced by scripts/setup and scripts/docker: Debian's packages, installed as root or with sudo.
# shellcheck shell=bash

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"

# install_debian_packages [apt-get install option...] PACKAGE...: the package lists updated first,
# and no server started by a package's install script (policy-rc.d says no while it runs): the
# project starts what it runs itself (its NGINX, the tests' PostgreSQL and Redis, dockerd).
install_debian_packages() {
  $sudo sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
  $sudo rm -f /usr/sbin/policy-rc.d
}
