"""``ganforge lab``: the minimax game of real ganforge models, live in the browser.

``session`` trains one page's G and D through the public training steps, ``frames`` turns
them into pictures (heat map, manifold, gradient arrows), ``protocol`` checks every message
and packs frames, ``runview`` reads a ``ganforge train`` run folder (read-only), and
``server`` serves it all (Starlette + uvicorn, one WebSocket per page). The page itself is
plain HTML/JS/CSS in ``static/``, served locally.
"""
