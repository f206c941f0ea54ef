# Prometheus, Alertmanager and the MariaDB and Redis exporters from Debian, as the local provider runs
# them (lab/observability/stack.ts); their configuration and rule files are in the mounted run dir.
ARG BASE
FROM ${BASE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager prometheus-mysqld-exporter prometheus-redis-exporter && rm -rf /var/lib/apt/lists/*
