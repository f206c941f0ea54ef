/**
 * Pinned versions of everything the lab installs natively. One place, so the setup script, the
 * containers provider and docker-compose.yml (checked by a unit test) agree.
 * Why Kafka 4.3.1 and not 4.4.0 or 3.9: docs/ARCHITECTURE.md, "Kafka version".
 */
export const versions = {
  kafka: '4.3.1',
  apicurio: '3.3.3',
  toxiproxy: 'v2.12.0',
  /** io.prometheus.jmx:jmx_prometheus_javaagent, loaded by every broker (infra/observability/jmx-exporter.yml). */
  jmxExporter: '1.0.1',
  /** Image tags for the containers provider and docker-compose.yml. */
  images: {
    kafka: 'apache/kafka:4.3.1',
    schemaRegistry: 'confluentinc/cp-schema-registry:7.9.0',
    mysql: 'mysql:8.4',
    redis: 'redis:7.4',
    toxiproxy: 'ghcr.io/shopify/toxiproxy:2.12.0',
    kafkaUi: 'provectuslabs/kafka-ui:v0.7.2',
  },
} as const;

export const toxiproxyModule = 'github.com/Shopify/toxiproxy/v2/cmd/server';
export const jmxExporterArtifact = `io.prometheus.jmx:jmx_prometheus_javaagent:${versions.jmxExporter}`;
export const apicurioArtifact = `io.apicurio:apicurio-registry-app:${versions.apicurio}:tar.gz:all`;
