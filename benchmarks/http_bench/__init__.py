"""`make bench-http`: the service over real HTTP against hand-written baselines (see
`__main__`)."""

# Set by the timed WSGI application on every response: the worker thread's CPU microseconds.
CPU_HEADER = "X-Bench-Cpu-Us"
