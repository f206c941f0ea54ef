# MariaDB from Debian, as the local provider uses it; the client runs `docker exec` to create the lab user.
ARG BASE
FROM ${BASE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client && rm -rf /var/lib/apt/lists/*
