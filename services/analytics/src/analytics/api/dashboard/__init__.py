"""The sales dashboard served at `/`: static pages that read the public report and drill
APIs (see static/app.js), and the charting library from the pinned npm install."""
