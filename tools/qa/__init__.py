"""Quality runs: soak, fuzz and the fault-injecting line they share."""
