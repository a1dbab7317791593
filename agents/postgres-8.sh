#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# postgres-8: a PostgreSQL server, delegated to resource-agents' pgsql (config_file -> config, postmaster_user ->
# pgdba, postmaster_options -> start_opt, and from it -D DIR -> pgdata, -p PORT -> pgport, -h ADDRESS -> pghost,
# -k DIR -> socketdir;
# Debian's pg_ctl found under /usr/lib/postgresql).
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="postgres-8" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">A PostgreSQL server (pgsql)</shortdesc>
  <longdesc lang="en">Runs the database server of the given configuration as postmaster_user.</longdesc>
  <parameters>
    <parameter name="name" primary="1"><content type="string"/></parameter>
    <parameter name="config_file"><content type="string" default="/var/lib/pgsql/data/postgresql.conf"/></parameter>
    <parameter name="postmaster_user"><content type="string" default="postgres"/></parameter>
    <parameter name="postmaster_options"><content type="string" default="-D /var/lib/pgsql/data"/></parameter>
    <parameter name="shutdown_wait"><content type="integer"/></parameter>
    <parameter name="service_name" inherit="service%name"><content type="string"/></parameter>
  </parameters>
  <actions>
    <action name="start" timeout="0"/>
    <action name="stop" timeout="0"/>
    <action name="status" interval="1m" timeout="10"/>
    <action name="status" depth="10" interval="5m" timeout="30"/>
    <action name="meta-data" timeout="0"/>
  </actions>
</resource-agent>
XML
}

[ "$1" = meta-data ] && { meta_data; exit $OCF_SUCCESS; }
OCF_RESKEY_config="$OCF_RESKEY_config_file"
OCF_RESKEY_pgdba="$OCF_RESKEY_postmaster_user"
OCF_RESKEY_start_opt="$OCF_RESKEY_postmaster_options"
# The server's own options name what pgsql needs to find it: -D the data directory, -p the port its status check
# connects to, -h the address it listens on (the check then connects over TCP), -k the socket directory.
opt() { printf ' %s\n' "$OCF_RESKEY_postmaster_options" | sed -n "s/.*[[:space:]]-$1[[:space:]]*\\([^[:space:]]*\\).*/\\1/p"; }
pgdata="$(opt D)"
[ -n "$pgdata" ] && { OCF_RESKEY_pgdata="$pgdata"; export OCF_RESKEY_pgdata; }
pgport="$(opt p)"
[ -n "$pgport" ] && { OCF_RESKEY_pgport="$pgport"; export OCF_RESKEY_pgport; }
pghost="$(opt h)"
[ -n "$pghost" ] && { OCF_RESKEY_pghost="$pghost"; export OCF_RESKEY_pghost; }
socketdir="$(opt k)"
[ -n "$socketdir" ] && { OCF_RESKEY_socketdir="$socketdir"; export OCF_RESKEY_socketdir; }
# Debian keeps pg_ctl out of PATH, under /usr/lib/postgresql/VERSION/bin: the newest installed one.
if [ ! -x /usr/bin/pg_ctl ]; then
  pgctl="$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$pgctl" ] && { OCF_RESKEY_pgctl="$pgctl"; export OCF_RESKEY_pgctl; }
fi
export OCF_RESKEY_config OCF_RESKEY_pgdba OCF_RESKEY_start_opt
rgm_delegate pgsql "$1"
