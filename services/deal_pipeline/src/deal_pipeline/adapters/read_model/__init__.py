"""The read model of the lists: own tables in the event store's database, brought up to date
by following the event store's notification log (see `ReadModel`)."""

from deal_pipeline.adapters.read_model.store import ReadModel

__all__ = ["ReadModel"]
