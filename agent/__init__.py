"""What the assistant knows: core types, image handling, intent tracking, SQL memory, settings."""
