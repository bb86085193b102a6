# What the Python fixtures share: a process's OS-thread count, from the Threads: line of /proc/PID/status.


def os_threads(pid="self"):
    with open("/proc/%s/status" % pid) as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return -1
