#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# mysql: a MySQL/MariaDB server, delegated to resource-agents' mysql (config_file -> config, mysqld_options and
# listen_address -> additional_parameters).
. "$(dirname "$0")/lib/rgm-agent.sh"

meta_data() {
cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="mysql" version="1.0">
  <version>1.0</version>
  <shortdesc lang="en">A MySQL server (mysql)</shortdesc>
  <longdesc lang="en">Runs mysqld with the given configuration file, listening on listen_address if set.</longdesc>
  <parameters>
    <parameter name="name" primary="1"><content type="string"/></parameter>
    <parameter name="config_file"><content type="string" default="/etc/my.cnf"/></parameter>
    <parameter name="listen_address"><content type="string"/></parameter>
    <parameter name="mysqld_options"><content type="string"/></parameter>
    <parameter name="startup_wait"><content type="integer" default="30"/></parameter>
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
OCF_RESKEY_additional_parameters="$OCF_RESKEY_mysqld_options${OCF_RESKEY_listen_address:+ --bind-address=$OCF_RESKEY_listen_address}"
export OCF_RESKEY_config OCF_RESKEY_additional_parameters
rgm_delegate mysql "$1"
