"""End to end: the real ``urne serve`` process, the real command lines, real HTTP."""
