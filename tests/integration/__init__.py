"""Tests that run the real agent CLIs against the scripted model server in fake_anthropic."""
