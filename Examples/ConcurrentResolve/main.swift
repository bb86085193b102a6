import Gevent
