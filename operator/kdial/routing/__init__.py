"""Line health and dynamic routing: pure decisions, no I/O.

- `detectors`: sequential detectors (Bernoulli CUSUM) and confidence bounds.
- `health`: each trunk's state (Healthy, Degraded, Ejected, Probing), decided for the pool.
- `weights`: routing weights from health, priority, cost, headroom and region fit.
- `presence`: local presence, the caller ID a callee is shown.
- `quarantine`: caller IDs whose answer rate collapsed, rested and released.
"""
