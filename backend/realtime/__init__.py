"""The Socket.IO server: authentication at connect, rooms, and thin event handlers over services."""
