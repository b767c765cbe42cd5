"""Activities that change how an order is priced and held: group-buy (拼团), bargain (砍价) and
flash sale (秒杀). Each has its policy on the order seam (``services.orders.activity``), its
service functions and its sweeps; ``huituan.wiring`` registers the policies."""
