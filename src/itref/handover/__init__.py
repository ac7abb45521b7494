"""The handover pack: everything a stand-in colleague needs about each entity, on paper or on screen.

``pack`` collects the data (reading only: inventory, playbooks, histories, journal); ``layout`` turns it
into a neutral document (sections, lists, tables) in the current language; ``markdown`` and ``html``
only format that document; ``output`` writes the pack's folder.
"""
