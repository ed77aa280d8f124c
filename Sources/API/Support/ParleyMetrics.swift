import Metrics
import Prometheus

/// The process-wide Prometheus registry behind swift-metrics (bootstrapped once per process).
public enum ParleyMetrics {
    private static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry { registry }
}
