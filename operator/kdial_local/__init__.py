"""Stand-ins for a cluster on one machine, for the demo and the tests: an emulated Kubernetes API
server and a kubelet that runs worker Deployments as local processes. Nothing in the operator,
the worker or the simulator may import this package (import-linter enforces it)."""
