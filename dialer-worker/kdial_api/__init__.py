"""`kdial api`: the agent API (aiohttp). Agents of a namespace log in to its campaigns, go
Ready or NotReady and follow their state as server-sent events."""
