"""Sources: each turns what one system says into additive signals per team (signals.source). They
know their system's API and their own tables, nothing about levels, and nothing of each other but
the read-only ports on their context."""
