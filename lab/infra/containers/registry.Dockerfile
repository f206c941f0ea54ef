# Apicurio Registry (the app distribution setup unpacked for the local provider) on OpenJDK 21 from
# Debian. The JDK layer is the same as the Kafka image's, so the engine builds it once.
ARG BASE
FROM ${BASE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-21-jre-headless && rm -rf /var/lib/apt/lists/*
COPY apicurio /opt/apicurio
