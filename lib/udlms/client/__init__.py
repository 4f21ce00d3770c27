"""The client application: association (session), Token Gateway, frame-counter resync, probe."""
