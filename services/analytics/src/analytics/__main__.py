from analytics.main import run

run()
