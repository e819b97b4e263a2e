"""The long-running parts: the worker loop and the schedule loop."""
