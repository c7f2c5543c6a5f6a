"""What the tests share: doubles of devices and libraries, and small helpers. Test modules import
from here, never from one another."""
