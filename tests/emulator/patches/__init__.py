"""Patches to moto 5.2.5: behaviour.py makes moto answer what AWS answers; speed.py changes only what a call
costs."""
