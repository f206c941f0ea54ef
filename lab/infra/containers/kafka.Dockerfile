# Kafka controller and brokers: OpenJDK 21 from Debian plus the jars `npm run setup` resolved from Maven
# Central for the local provider (copied into the build context under .lab/images/), so both providers
# run the same Kafka. BASE: debian:trixie where a registry answers, else the base setup made locally.
ARG BASE
FROM ${BASE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-21-jre-headless && rm -rf /var/lib/apt/lists/*
COPY libs /opt/kafka/libs
COPY log4j2.properties /opt/lab/native/log4j2.properties
# The Prometheus JMX exporter agent every broker loads (-javaagent; its config is in the mounted run dir).
COPY jmx_prometheus_javaagent-*.jar /opt/lab/jmx-exporter/
