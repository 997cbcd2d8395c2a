"""Controls to audio: the decoded events (EventControls), the room bank, the fast renderer and its slow reference."""
