from notification.main import run

run()
