"""Entity features: events from linked records, point-in-time snapshots, labels, the feature catalog."""
