"""The Faust worker: agents that decode, call the pure core, and send."""
