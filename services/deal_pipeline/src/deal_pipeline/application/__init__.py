"""Use cases of the deal pipeline, as one `eventsourcing` Application taking plain values."""

from deal_pipeline.application.deals import DealsApp

__all__ = ["DealsApp"]
