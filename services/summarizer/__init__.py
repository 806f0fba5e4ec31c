"""The summarizer service: daily summaries, manifests and, later, retention."""
