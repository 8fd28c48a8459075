"""Triggers: what starts runs without an operator. The webhook server (`adw webhook`:
GitHub's deliveries, signed, deduplicated) and the poller (`adw poll`: the tracker's open
issues, asked at an interval). Both only ask the runtime for runs (`Orchestrator.launch`)
and record what they acted on in the store's `deliveries` table."""
