"""Use cases of the deal pipeline: separate objects (deal commands, opening deals, client
cards, reference data, lists) over one event store, each taking plain values."""
