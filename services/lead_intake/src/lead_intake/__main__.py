from lead_intake.main import run

run()
