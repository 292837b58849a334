"""gilfree's benchmark harness and its peers: the other ways a user could do the same work."""
