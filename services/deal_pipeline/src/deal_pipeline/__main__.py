from deal_pipeline.main import run

run()
