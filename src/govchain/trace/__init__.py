"""Fund tracing: final movements of value, indexed in final order, and a pure trace engine."""
