"""What adw tells the tools that watch it: metrics in Prometheus's format, and the
status API that serves them."""
