"""The history database: opening and diagnosing it, its versioned migrations, the snapshot history."""
