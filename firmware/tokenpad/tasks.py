"""The app as an asyncio task (``App.run``), for a program that shares the board with other
tasks; main.py runs the plain polling loop (``App.loop``), so this code is loaded only
when asked for (issue 26)."""


async def run(app, poll_ms=10, until=None):
    """Forever (or until ``until()`` is true): poll keys, act, yield to other tasks."""
    try:
        import asyncio
    except ImportError:  # pragma: no cover - very old MicroPython
        import uasyncio as asyncio
    app.running = True
    app.boot()
    tick = getattr(app.display, "tick", None)
    while app.running:
        app.step()
        if tick is not None:
            tick()
        if until is not None and until():
            break
        await asyncio.sleep(poll_ms / 1000)
    app.running = False
