"""`kdial demo`: kdial end to end on this machine or a cluster.

`run` drives it (the subcommand's entry point); `cluster` is where it runs (an emulated API
server or a real cluster); `timeline`, `view` and `report` record, show and sum up what happened,
as pure functions of what the API and Redis returned.
"""
