"""kdial sim: a FreeSWITCH stand-in that speaks the Event Socket protocol byte for byte.

It serves the dialer's tests, the demo and benchmarks. It stands alone (asyncio, pydantic,
PyYAML): it never imports gevent, greenswitch or another kdial package.
"""
