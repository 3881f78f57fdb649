"""Audio front end: loading any recording, and log-mel features in torch."""
