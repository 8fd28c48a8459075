"""Issue trackers behind one protocol: the local tracker and GitHub."""
