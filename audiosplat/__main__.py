from audiosplat.cli import app

app(prog_name="audiosplat")
